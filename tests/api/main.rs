//! The whole test suite, one binary: the heavy dependencies link once (on two cores that is
//! most of a test build), and one `cargo test` runs everything.
//!
//! - [`endpoint`]: the endpoint, black-box, through the real server on port 0 (over the memory
//!   store, or DynamoDB with `NEPTUN_TEST_STORE=dynamodb`).
//! - [`store`]: one conformance suite for both stores; DynamoDB call counts, races, an outage.
//! - [`cli`], [`deploy`]: the built binaries as their users and platforms run them.
//! - [`export`]: the Neptun app's users moved in from its own PostgreSQL table.
//! - [`interop`], [`browser`]: against h3 itself, and the web UI's journey in Chromium.
//! - [`properties`], [`soak`], [`argon2_compat`], [`template`], [`hygiene`].
//!
//! `TEST_LOG=1` prints every log line the test servers write (they are captured, and searched
//! for leaked secrets, either way).

mod common;

mod argon2_compat;
mod browser;
mod cli;
mod deploy;
mod endpoint;
mod export;
mod hygiene;
mod interop;
mod properties;
mod soak;
mod store;
mod template;
