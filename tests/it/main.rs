//! One integration test binary (it links once, so the suite stays fast): one module per
//! surface, with shared helpers that start real `redis-server`s and real HTTP servers.

mod api;
mod batcher;
mod bench;
mod billing_robo_client;
mod billing_robo_decisions;
mod billing_robo_jobs;
mod billing_robo_sandbox;
mod chaos;
mod chaos_faults;
mod chaos_redis;
mod cli;
mod crash;
mod demo;
mod helpers;
mod metrics;
mod openapi;
mod proteger_answers;
mod proteger_client;
mod proteger_dead_retry;
mod proteger_jobs;
mod proteger_recent;
mod proteger_sandbox;
mod proteger_types;
mod queue;
mod queue_rate_limit;
mod queue_schedules;
mod queue_snooze;
mod registry;
mod tulip_api;
mod tulip_jobs;
mod tulip_sandbox;
mod webhook_endpoints;
mod webhook_http;
mod webhook_signing;
mod webhooks;
