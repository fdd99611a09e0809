// Package deployments holds the files that run hookline elsewhere: the
// top-level Dockerfile and docker-compose.yml, the demo endpoints of the
// compose stack (compose/), Kubernetes manifests (k8s/), and the local
// Kafka and Redis of the tests (local/). Its tests load each file with
// the loader its platform uses and check it against the built binary:
// commands, flags, environment variables, ports and health paths.
package deployments
