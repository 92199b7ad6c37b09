//! One folder per vendor: its wire types, its HTTP client, its job handlers and its sandbox.
//! A vendor may use `queue`; `queue` knows nothing of vendors.

pub mod proteger;
