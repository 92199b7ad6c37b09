//! Shared test helpers: real `redis-server`s, settings for a test app.
#![allow(dead_code)]

pub mod answer;
pub mod api;
pub mod background;
pub mod process;
pub mod receiver;
pub mod redis;
pub mod worker;
pub mod world;
