"""The word filters of spec §5.1: the ~80 security words of item 2 and the extra words of item 5.

Both match as the authors matched: a word is a substring of the lower-cased text ("auth" also drops
"author"; "flag" drops "flags"), so the lists are long on purpose and drop many innocent rows. The extra words
are matched case-insensitively too (our reading: the authors' "CVE" is upper-case, so a case-sensitive match
on lower-cased text could never fire).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: Spec §5.1 item 2, in its order.
SECURITY_WORDS = (
    "safe", "vuln", "inject", "exploit", "bug", "backdoor", "malware", "weakness", "sanitized", "malicious", "xss",
    "breach", "compromise", "leak", "bypass", "csrf", "evil", "attack", "secure", "threat", "patch", "validate",
    "whitelist", "blacklist", "overflow", "sandbox", "unauthorized", "tamper", "encrypt", "decrypt", "cipher",
    "auth", "privilege", "token", "phish", "brute", "ddos", "denial", "lockdown", "mitm", "integrity", "spoof",
    "trojan", "worm", "virus", "adversary", "zero-day", "firewall", "ransomware", "smuggle", "sniff", "honeypot",
    "intrusion", "forensic", "audit", "logging", "compliance", "exfiltrate", "credential", "exposure",
    "tampering", "watchdog", "buffer", "overrun", "pwn", "isolate", "throttle", "revoke", "obfuscate", "scrub",
    "exploration", "detour", "flag", "quarantine", "detection", "filtering", "penetration",
)
#: Spec §5.1 item 5.
EXTRA_WORDS = ("CVE", "danger", "violat", "trust")


def contains_any(texts: Iterable[str], words: Sequence[str]) -> bool:
    """Whether any of `words` is a substring of any of `texts`, both lower-cased."""
    lowered = [word.lower() for word in words]
    return any(word in text.lower() for text in texts for word in lowered)
