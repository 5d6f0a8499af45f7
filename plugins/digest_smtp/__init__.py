"""The built-in ``smtp`` deliverer: digest emails over SMTP. See :class:`SmtpDeliverer`.

```toml
[deliverers.smtp]
component = "smtp"
host = "smtp.example.org"
port = 587
security = "starttls"
username = "digest@example.org"
password_env = "SMTP_PASSWORD"
rate = 10
dkim_selector = "digest"
dkim_domain = "example.org"
dkim_key_file = "dkim.pem"
```
"""

from __future__ import annotations

from digest import Deliverer, hookimpl
from digest_smtp.deliverer import SmtpDeliverer

__all__ = ["SmtpDeliverer", "register_deliverers"]


@hookimpl
def register_deliverers() -> list[type[Deliverer]]:
    return [SmtpDeliverer]
