#!/bin/sh
# The quickstart's requests, one per route, with bodies the sandbox accepts. Run it in a
# fourth terminal, after `. docs/quickstart/env.sh`: `sh docs/quickstart/requests.sh`.
set -eu
API=${API:-http://127.0.0.1:8080}
SINK=${SINK:-http://127.0.0.1:8099/webhooks}
call() { # METHOD PATH [curl options...]: prints the answer; fails on an HTTP error
    method=$1 path=$2
    shift 2
    curl -sS --fail-with-body -X "$method" "$API$path" \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"
    echo
}
job_id() { sed -n 's/.*"job_id":"\([^"]*\)".*/\1/p'; }

echo '# 1. The webhook endpoint: the sink of terminal 2, with its secret.'
call POST /v1/webhook-endpoints -d @- <<JSON
{"url": "$SINK", "secret": "$SECRET"}
JSON

echo '# 2. A Proteger warranty: the sandbox catalogue has the laptop "sandbox-laptop"'
echo '#    (100 000 yen) and its 1-year plan 0190c3a0-0000-7000-8000-00000000b001 (2 000 yen).'
PROTEGER=$(call POST /v1/proteger/contracts -d @- <<'JSON'
{"transactionId": "quickstart-order-1", "transactionTotal": 102000,
 "transactionDate": "2026-11-01T10:00:00+09:00",
 "customer": {"name": "山田 太郎", "email": "taro.yamada@example.com"},
 "product": {"referenceId": "sandbox-laptop", "purchasePrice": 100000},
 "plan": {"planId": "0190c3a0-0000-7000-8000-00000000b001", "purchasePrice": 2000},
 "reference": "order-1"}
JSON
)
echo "$PROTEGER"

echo '# 3. A Tulip quote, then the contract: a one-day bike rental (product 5f9b2b3b).'
TULIP_BODY='{"uid": "renter-1", "contract_type": "LCD", "options": ["break", "theft"],
 "start_date": "2030-06-01T09:00:00.000Z", "end_date": "2030-06-02T09:00:00.000Z",
 "products": [{"product_id": "5f9b2b3b",
               "data": {"user_name": "Pierre Dupont", "product_marked": "123456789"}}]}'
call POST /v1/tulip/quotes -d "$TULIP_BODY"
TULIP=$(call POST /v1/tulip/contracts -d "$TULIP_BODY")
echo "$TULIP"

echo '# 4. A Billing-Robo credit application (billing codes demo-* exist at the sandbox).'
CREDIT=$(call POST /v1/billing-robo/credit-applications -d @- <<'JSON'
{"billing_code": "demo-quickstart-1", "representative_name": "山田 太郎",
 "contract_date": "2026/11/01", "transaction_count": 12,
 "company_url": "https://www.example.co.jp"}
JSON
)
echo "$CREDIT"

echo '# 5. Watch: a job record (again until "state" is final), the lists, the dead set.'
sleep 2
call GET "/v1/jobs/$(echo "$PROTEGER" | job_id)"
call GET "/v1/jobs/$(echo "$TULIP" | job_id)"
call GET "/v1/jobs/$(echo "$CREDIT" | job_id)"
call GET /v1/dead
underwrite jobs list --limit 10
underwrite dead list
