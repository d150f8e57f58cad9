//! `naba`: train, evaluate and run Arabic news topic classifiers and entity taggers.
//! This file only parses the command line and hands over to `cli/`.

mod cli;

use clap::Parser;

fn main() {
    naba::alloc::keep_freed_memory();
    let args = cli::Cli::parse();
    if let Err(e) = cli::run(args) {
        eprintln!("naba: error: {e}");
        std::process::exit(1);
    }
}
