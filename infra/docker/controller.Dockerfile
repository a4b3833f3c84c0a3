# syntax=docker/dockerfile:1
# The hellofleet controller (aws provider on EC2). Build context: the repository root.
#   docker build -f infra/docker/controller.Dockerfile -t hellofleet/controller .
#
# Runtime: distroless/cc (glibc, CA certificates, uid 65532, no shell), about 25 MB with
# the binary. Not musl-static: aws-lc-sys would need a musl C toolchain, and musl's
# allocator costs throughput under many threads.
# checkov:skip=CKV_DOCKER_2: health is checked from outside (NLB target group on HTTP); distroless has no shell or curl for a HEALTHCHECK.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p controller --bin controller \
 && install -D -m 0755 target/release/controller /out/controller

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="hellofleet-controller" \
      org.opencontainers.image.source="hellofleet"
COPY --from=builder /out/controller /controller
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/controller"]
CMD ["run", "--config", "/etc/hellofleet/controller.toml"]
