# ckalab server image for docker compose (needs a registry for the base images).
FROM node:20-bookworm AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/web/dist ./web/dist
RUN CGO_ENABLED=0 go build -tags embedweb -o /ckalab ./cmd/ckalab

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates docker.io postgresql-client-15 && rm -rf /var/lib/apt/lists/*
COPY --from=build /ckalab /usr/local/bin/ckalab
ENV CKALAB_LISTEN=0.0.0.0:8080 CKALAB_STATE_DIR=/var/lib/ckalab
VOLUME /var/lib/ckalab
EXPOSE 8080
ENTRYPOINT ["ckalab"]
CMD ["serve"]
