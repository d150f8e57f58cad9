//! Training: the optimiser, the learning-rate schedule, batching, checkpoints and the loop
//! shared by every task (a [`task::Task`]).

pub mod batches;
pub mod checkpoint;
pub mod optim;
pub mod schedule;
pub mod task;
pub mod trainer;
