//! The command line and the portal generator, one binary: the binary run
//! as operators run it.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod cli;
mod generate;
mod witness;
