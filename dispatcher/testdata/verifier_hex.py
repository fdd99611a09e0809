# A receiver's verifier of bare hex signatures, kept as receivers write
# it, plus a driver that applies that receiver's two rejection rules: the signature must match, and X-Momentumpro-Timestamp must not be
# more than 5 minutes old. argv[1] is a JSON file of
# [{"body": <base64>, "signature": <header>, "timestamp": <header>}],
# argv[2] the secret.
import base64, json, sys
from datetime import datetime, timedelta, timezone

import hmac, hashlib

def verify(body: bytes, header_sig: str, secret: str) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header_sig)

def fresh(timestamp: str, now: datetime) -> bool:
    try:
        at = datetime.fromisoformat(timestamp)
    except ValueError:
        return False
    return at.tzinfo is not None and now - at <= timedelta(minutes=5)

def accept(case, secret, now):
    return verify(base64.b64decode(case["body"]), case["signature"], secret) and fresh(case["timestamp"], now)

cases = json.load(open(sys.argv[1]))
secret, now = sys.argv[2], datetime.now(timezone.utc)
# The rules must bite: a changed body and a six-minute-old timestamp fail.
first = cases[0]
tampered = dict(first, body=base64.b64encode(base64.b64decode(first["body"]) + b" ").decode())
if accept(tampered, secret, now) or accept(first, secret, now + timedelta(minutes=6)):
    print("the rules accepted a tampered or stale delivery")
    sys.exit(2)
ok = sum(accept(c, secret, now) for c in cases)
print(f"verified {ok} of {len(cases)}")
sys.exit(0 if ok == len(cases) else 1)
