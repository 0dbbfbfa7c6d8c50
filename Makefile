# Portcullis: the two commands a new user needs are `make run` and `make test`.
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages: Redis (server, Sentinel, redis-cli) for the integration tests, hiredis for
# the Redis store's RESP codec, openssl for the TLS tests' throwaway certificates, python3 with
# venv for the cross-checks against PyJWT and AuthX (the tests themselves create
# .build/crosscheck-venv and pip-install the pinned packages listed in
# Tests/PortcullisIntegrationTests/Support/PythonVenv.swift), nginx and caddy for the
# forward-auth tests, chromium and its driver for the console test in a real browser.
TEST_PACKAGES := redis-server redis-sentinel redis-tools libhiredis-dev openssl python3 python3-venv nginx caddy \
  chromium chromium-driver

.PHONY: build release run test bench deps clean

build:
	$(SWIFT) build

release:
	$(SWIFT) build -c release

# Installs the Debian packages the tests need when they are missing (CI starts from a fresh machine).
deps:
	@missing=""; for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# Unit tests, then the binary over real sockets (the process tests need the built executable).
test: deps
	$(SWIFT) build
	$(SWIFT) test --disable-swift-testing

# Starts the gate with the embedded store in front of a demo upstream; Ctrl-C stops both.
# Builds only the two executables it starts (not the tests, nor the fuzz targets).
run:
	$(SWIFT) build --product portcullis
	$(SWIFT) build --product portcullis-demo-upstream
	@scripts/run-dev.sh

# Release build, then Portcullis side by side with nginx under wrk; see docs/benchmarks.md.
bench:
	@bench/run.sh

clean:
	rm -rf .build .run

# libFuzzer (FuzzTesting/, a separate package), each target bounded to FUZZ_SECONDS:
# - FuzzTokenVerifier, the token verifier: new interesting inputs go to FuzzTesting/Corpus/,
#   crashing ones to FuzzTesting/Crashers/, which FuzzRegressionTests replays on every `make test`;
# - FuzzHTTP1, the request-head parser and the response framing (head parser, chunked scanner):
#   FuzzTesting/HTTP1Corpus/ and FuzzTesting/HTTP1Crashers/, replayed by HTTP1FuzzRegressionTests.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library

.PHONY: fuzz
fuzz:
	$(SWIFT) build --package-path FuzzTesting $(FUZZ_FLAGS) --product FuzzTokenVerifier
	$(SWIFT) build --package-path FuzzTesting $(FUZZ_FLAGS) --product FuzzHTTP1
	@mkdir -p FuzzTesting/Corpus FuzzTesting/Crashers FuzzTesting/HTTP1Corpus FuzzTesting/HTTP1Crashers
	"$$($(SWIFT) build --package-path FuzzTesting $(FUZZ_FLAGS) --show-bin-path)/FuzzTokenVerifier" \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=FuzzTesting/Crashers/ FuzzTesting/Corpus
	"$$($(SWIFT) build --package-path FuzzTesting $(FUZZ_FLAGS) --show-bin-path)/FuzzHTTP1" \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=FuzzTesting/HTTP1Crashers/ FuzzTesting/HTTP1Corpus
