//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod cli;
pub mod fakepeer;
pub mod http;
pub mod hub;
pub mod hub_world;
pub mod mount;
pub mod names;
pub mod netns;
pub mod tracker;
