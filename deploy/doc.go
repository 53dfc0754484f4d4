// Package deploy holds no code: its tests check the Kubernetes and KServe
// manifests beside it (kubernetes/, kserve/) offline, strictly, and against
// the server's code. It is a module of its own so that the main module does
// not take Kubernetes' dependencies.
package deploy
