//! The tasks naba trains: each turns its data into examples for the shared training loop
//! ([`crate::train::task::Task`]) and scores a model on a dev set.

pub mod losses;
pub mod ner;
pub mod topic;
