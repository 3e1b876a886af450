//! Helpers shared by the integration tests; each test crate uses a subset,
//! hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod browser;
pub mod certs;
pub mod fault_server;
pub mod reference;
pub mod service;
