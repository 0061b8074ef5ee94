/** The UMS wire protocol. Knows nothing of CRIU or Kubernetes. */
package io.ums.protocol;
