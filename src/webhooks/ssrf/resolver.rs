//! Looking a webhook host up and keeping only the addresses the policy admits:
//! [`SsrfPolicy::resolve`], and [`SsrfResolver`], which plugs it into the HTTP client as
//! its DNS resolver (why a resolver: see the module docs of `ssrf`).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{Refusal, SsrfPolicy, list};

/// A lookup that did not give an address to connect to.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Every address the name resolved to is refused.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The lookup itself failed (no such name, no DNS server, ...), or found nothing.
    #[error("DNS lookup of `{host}` failed: {source}")]
    Lookup {
        host: String,
        source: std::io::Error,
    },
}

impl SsrfPolicy {
    /// Looks `host` up and keeps the addresses this policy admits (port 0: the caller sets
    /// it). Refused when none is left; the refused ones are named.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let lookup_error = |source| ResolveError::Lookup {
            host: host.to_string(),
            source,
        };
        let found: BTreeSet<IpAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(lookup_error)?
            .map(|addr| addr.ip())
            .collect();
        if found.is_empty() {
            return Err(lookup_error(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no addresses",
            )));
        }
        let mut admitted = Vec::new();
        let mut refused = Vec::new();
        for ip in found {
            match self.check_ip(ip) {
                Ok(()) => admitted.push(SocketAddr::new(ip, 0)),
                Err(Refusal::Address { ip, range }) => refused.push((ip, range)),
                Err(other) => return Err(other.into()),
            }
        }
        if admitted.is_empty() {
            return Err(Refusal::Host {
                host: host.to_string(),
                refused,
            }
            .into());
        }
        if !refused.is_empty() {
            tracing::warn!(
                host,
                refused = %list(&refused),
                "webhook host resolves to refused addresses too; connecting to the others only"
            );
        }
        Ok(admitted)
    }
}

/// The resolver the webhook HTTP client uses: it looks up and checks in one step, so the
/// client only ever connects to an address the policy admitted. A refusal reaches the
/// caller as a [`Refusal`] in the request error's source chain.
#[derive(Debug, Clone)]
pub struct SsrfResolver {
    policy: Arc<SsrfPolicy>,
}

impl SsrfResolver {
    pub fn new(policy: Arc<SsrfPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for SsrfResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_string();
        Box::pin(async move {
            match policy.resolve(&host).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                Err(ResolveError::Refused(refusal)) => {
                    // The refusal says why and names the allowlist that would admit the
                    // address: a receiver on the operator's own machine is the usual case.
                    tracing::warn!(host, %refusal, "webhook host refused by the SSRF guard");
                    Err(Box::new(refusal) as _)
                }
                Err(lookup) => Err(Box::new(lookup) as _),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn strict() -> SsrfPolicy {
        SsrfPolicy::default()
    }

    #[tokio::test]
    async fn a_name_is_refused_when_all_its_addresses_are() {
        let error = strict().resolve("localhost").await.expect_err("refused");
        let ResolveError::Refused(Refusal::Host { host, refused }) = &error else {
            panic!("expected a refusal, got {error:?}");
        };
        assert_eq!(host, "localhost");
        assert!(
            refused.iter().any(|(ip, _)| ip.is_loopback()),
            "{refused:?}"
        );
        assert!(error.to_string().contains("loopback"), "{error}");

        let allowed = SsrfPolicy::new(&["127.0.0.0/8"], false).expect("policy");
        let addrs = allowed.resolve("localhost").await.expect("admitted");
        // Whatever else `localhost` resolves to (`::1`), only the admitted ones are kept.
        assert!(!addrs.is_empty());
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_ipv4() && a.ip().is_loopback()),
            "{addrs:?}"
        );
    }

    #[tokio::test]
    async fn ip_literals_resolve_through_the_same_check() {
        assert!(matches!(
            strict().resolve("10.0.0.1").await,
            Err(ResolveError::Refused(_))
        ));
        let addrs = strict().resolve("8.8.8.8").await.expect("public");
        assert_eq!(addrs, vec![SocketAddr::new(ip("8.8.8.8"), 0)]);
    }

    /// What the resolver logs, written to a buffer of the test's.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_refused_host_is_logged_with_the_reason_and_the_allowlist() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        // This thread only: a `#[tokio::test]` runs the future on it.
        let _guard = tracing::subscriber::set_default(subscriber);

        let resolver = SsrfResolver::new(Arc::new(strict()));
        let name: Name = "localhost".parse().expect("name");
        assert!(resolver.resolve(name).await.is_err());

        let logged = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(logged.contains("refused by the SSRF guard"), "{logged}");
        assert!(logged.contains("localhost"), "{logged}");
        assert!(logged.contains("loopback"), "{logged}");
        assert!(logged.contains("webhooks.allow_cidrs"), "{logged}");
        assert!(
            logged.contains("UNDERWRITE_WEBHOOKS_ALLOW_CIDRS"),
            "{logged}"
        );
    }
}
