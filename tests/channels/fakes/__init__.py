"""Local fakes of the sales-channel platforms: small threaded HTTP servers on 127.0.0.1 speaking each
platform's wire format, with built-in payloads shaped like the real ones (the vendor fixtures are only for the
conformance suite). Each can inject 429s with Retry-After, 5xx, slow answers (timeouts) and paginates."""
