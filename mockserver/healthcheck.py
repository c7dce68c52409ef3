"""``python -m mockserver.healthcheck``: exit 0 when the server these settings describe answers its
health check (the image's HEALTHCHECK; it follows ``PAC_MOCK_PORT`` and the settings file)."""

from __future__ import annotations

import sys
import urllib.request

from .settings import Settings


def main() -> int:
    try:
        url = Settings.load().base_url + "/__admin/health"
        with urllib.request.urlopen(url, timeout=2) as response:
            return 0 if response.status == 200 else 1
    except (OSError, ValueError) as exc:
        print(f"pac-mock health check: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
