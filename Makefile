# anycastd: `make demo` runs the product in a sandbox lab; `make test` runs every test tier.
# Both install what they need (Debian packages, the lab kernel) on a fresh machine.
SWIFT ?= swift
PREFIX ?= /usr

.PHONY: all build release deps test unit demo fuzz bench deb format lint clean

all: build

deps:
	Tests/tools/deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --static-swift-stdlib -Xlinker -z -Xlinker now

test:
	Tests/tools/test-all.sh

unit: deps
	$(SWIFT) test --no-parallel

demo: build
	Tests/demo/demo.sh

fuzz: deps
	Tests/fuzz/run.sh 600

bench: build
	Tests/bench/run.sh

deb: release
	packaging/build-deb.sh

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tests

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests

clean:
	rm -rf .build build
