/**
 * What the agent's control API and the coordinator's HTTP API share about who may call them: bearer tokens
 * read from files, the 401 answer, and TLS from PEM files (server certificate and key, client trust). It
 * lives here because this is the one module both depend on; it needs only vertx-core.
 */
package io.ums.protocol.security;
