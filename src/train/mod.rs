//! Training: the optimiser, the learning-rate schedule and the loop shared by every task.

pub mod optim;
pub mod schedule;
