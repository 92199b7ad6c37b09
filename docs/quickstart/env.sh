# The quickstart's environment: the same in every terminal (`. docs/quickstart/env.sh`).
export UNDERWRITE_REDIS_URL=redis://127.0.0.1:6379
# The producer API's bearer token (TOKEN is for the curl lines).
export UNDERWRITE_API_TOKENS=quickstart-token TOKEN=quickstart-token
# Vendor credentials: the sandbox takes any, as long as every process has the same.
export UNDERWRITE_PROTEGER_TOKEN=sandbox-token UNDERWRITE_TULIP_API_KEY=sandbox-key
export UNDERWRITE_BILLING_ROBO_USER_ID=quickstart@example.com
export UNDERWRITE_BILLING_ROBO_ACCESS_KEY=sandboxAccessKey1
# The webhook receiver is on this machine: let deliveries reach loopback (by default the
# SSRF guard refuses private addresses).
export UNDERWRITE_WEBHOOKS_ALLOW_CIDRS=127.0.0.0/8
# The sandbox's Billing-Robo decides in 5 s, and we poll it every 10 s (defaults: 60 s and
# 5 minutes).
export UNDERWRITE_VENDORS_BILLING_ROBO_SANDBOX_DECIDE_AFTER_SECS=5
export UNDERWRITE_VENDORS_BILLING_ROBO_POLL_INTERVAL_SECS=10
# The webhook endpoint's signing secret. Make your own:
#   echo "whsec_$(head -c 32 /dev/urandom | base64)"
export SECRET=whsec_cXVpY2tzdGFydC1zZWNyZXQtMzItYnl0ZXMtbG9uZyE=
