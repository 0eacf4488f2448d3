# The leviathan-action image: the action's command for Docker-based use
# (submit and report on any Linux runner, e.g. `uses: docker://…@sha256:…`
# pinned by digest in a release). The action itself (action.yml) is a
# composite action that builds or finds the same binary; see docs/action.md.
#
# No base image is named here: pass the Go builder image at build time,
#   docker build --build-arg GO_IMAGE=<a Go 1.26 image, by digest> -t leviathan-action .
# The final stage is FROM scratch: the static binary and the builder's CA
# certificates only. It runs as root, as GitHub requires of Docker actions
# (the runner's files, such as $GITHUB_OUTPUT, must stay writable).
ARG GO_IMAGE

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/leviathan-action ./cmd/leviathan-action

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/leviathan-action /leviathan-action
ENTRYPOINT ["/leviathan-action"]
