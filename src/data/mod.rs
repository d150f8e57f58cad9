//! Readers and writers for the files users bring: labelled documents and tagged sentences.
//! Knows file formats, nothing about tensors. Errors carry the file and line.

pub mod atomic;
