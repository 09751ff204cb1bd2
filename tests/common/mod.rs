//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod btfake;
pub mod cli;
pub mod fakepeer;
pub mod home_lan;
pub mod http;
pub mod hub;
pub mod hub_world;
pub mod lan;
pub mod libtorrent;
pub mod mainline_dht;
pub mod mount;
pub mod names;
pub mod netns;
pub mod tracker;
