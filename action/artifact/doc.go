// Package artifact is a client of the GitHub Actions artifact v4 protocol:
// the "results" Twirp service (CreateArtifact, FinalizeArtifact,
// ListArtifacts, GetSignedArtifactURL; Twirp's JSON encoding with proto3
// field names) and the blob storage behind its signed URLs.
//
// Upload zips the given files on the fly into an io.Pipe and streams the
// archive to the signed URL as Azure block-blob Put Block requests
// (comp=block with base64 block ids, BlockSize bytes each), then Put Block
// List (comp=blocklist), then finalizes the artifact with the archive's size
// and SHA-256. Each request is retried with bounded exponential backoff on
// network errors, 429 and 5xx; 401/403 from the results service name the
// ACTIONS_RUNTIME_TOKEN variable. Zipping, hashing and uploading overlap: the
// next block is built while the previous one is in flight.
//
// Download finds an artifact of this run by name (ListArtifacts), asks for
// its signed URL and streams it; Extract streams one member out of the zip
// without a temporary copy; Walk streams the members in archive order to a
// function and stops downloading where it stops, so the first members of a
// large artifact cost only their own bytes. DownloadByID and WalkByID
// fetch an artifact of any run through the REST API (go-github), which
// redirects to the same kind of signed URL.
//
// Configuration comes from ACTIONS_RUNTIME_TOKEN (a JWT whose scope claim
// holds "Actions.Results:<run backend id>:<job backend id>") and
// ACTIONS_RESULTS_URL, as a GitHub runner sets them for actions.
//
// Limits: blocks are uploaded one at a time, in order (act's server appends
// blocks as they arrive, so it needs that order; Azure would accept them in
// parallel). Members are written with deflate at level 0 (stored deflate
// blocks, about 5 bytes per 64 KiB) unless File.Compress is set: a streamed
// zip's local headers carry no sizes, and only a self-terminating member can
// be extracted from a stream. Extract therefore refuses members, or members
// before the wanted one, that are stored with a data descriptor; encrypted
// members and methods other than store and deflate are refused too. A
// download is retried only until its response starts; a broken body is an
// error, not a resume. Against act's server a retried block that had reached
// the server partially is appended twice: act ignores block ids.
//
// Package artifacttest starts act's server for tests.
package artifact
