//! mcp-portal: run MCP servers for many users on a plain Docker Engine.
//!
//! Layers point one way: `cli` -> `manager` -> {`catalog` (pure), `store` (the data dir)}.

pub mod alloc;
pub mod api;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod gateway;
pub mod ids;
pub mod manager;
pub mod metrics;
pub mod plan;
pub mod reconcile;
pub mod secrets;
pub mod store;
