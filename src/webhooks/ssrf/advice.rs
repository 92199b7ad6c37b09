//! What an endpoint's creator should hear now rather than discover in failed deliveries:
//! a URL whose host name resolves only to addresses the guard refuses (a receiver on this
//! machine or the office network) is accepted, since names can move, but answered with a
//! warning that names the setting that would admit it. Literal addresses and `localhost`
//! are refused outright at creation (`check_endpoint_url`); this covers names.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

use super::SsrfPolicy;
use super::resolver::ResolveError;

/// How long creating an endpoint waits for the lookup before saying nothing.
const LOOKUP_PATIENCE: Duration = Duration::from_secs(2);

impl SsrfPolicy {
    /// A warning for `url` (already accepted by [`SsrfPolicy::check_endpoint_url`]) when
    /// its host name resolves to no address deliveries may reach, or does not resolve.
    pub async fn reachability_warning(&self, url: &str) -> Option<String> {
        let parsed = Url::parse(url).ok()?;
        let host = parsed.host_str()?;
        // A literal address was judged when the URL was checked.
        if host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
            return None;
        }
        match tokio::time::timeout(LOOKUP_PATIENCE, self.resolve(host)).await {
            Ok(Ok(_)) | Err(_) => None,
            Ok(Err(ResolveError::Refused(refusal))) => {
                Some(format!("deliveries to this URL will be refused: {refusal}"))
            }
            Ok(Err(lookup @ ResolveError::Lookup { .. })) => Some(format!(
                "deliveries will fail until the name resolves: {lookup}"
            )),
        }
    }
}
