# syntax=docker/dockerfile:1
# The hellofleet API instance. Build context: the repository root.
#   docker build -f infra/docker/service.Dockerfile -t hellofleet/service .
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
    cargo build --release --locked -p service --bin service \
 && install -D -m 0755 target/release/service /out/service
# RDS's CA bundle (AWS's trust store, over HTTPS only), refused unless it holds certificates.
RUN curl -fsS --proto '=https' --tlsv1.2 --retry 3 -o /out/rds-global-bundle.pem \
      https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem \
 && grep -q -- '-----BEGIN CERTIFICATE-----' /out/rds-global-bundle.pem

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="hellofleet-service" \
      org.opencontainers.image.source="hellofleet"
COPY --from=builder /out/service /service
# RDS's CA bundle: the books database URL says sslmode=verify-full with this file as
# sslrootcert, so the database's certificate and name are checked, not only encrypted.
COPY --from=builder --chmod=0444 /out/rds-global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/service"]
