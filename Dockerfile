# syntax=docker/dockerfile:1
# underwrite: one image for every role (`serve`, `serve --no-api`, `serve --no-worker`,
# `sandbox`, and the operator commands `jobs` / `dead`).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, so editing the sources does not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY config ./config
COPY src ./src
# Make sure cargo sees the real sources as newer than the placeholder build.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin underwrite

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home underwrite
COPY --from=build /src/target/release/underwrite /usr/local/bin/underwrite
USER underwrite
ENV UNDERWRITE_LOG=info \
    UNDERWRITE_LOG_FORMAT=json
# tini forwards SIGTERM to underwrite, which shuts down gracefully and exits 0.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/underwrite"]
CMD ["serve"]
