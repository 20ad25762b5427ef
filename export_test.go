package graphvault

import "github.com/graphvault/graphvault/store/blob"

// WrapBucket returns cfg with the driver of the Vault's bucket wrapped by wrap, so
// that a test can inject storage faults (see store/blob/faultblob).
func WrapBucket(cfg Config, wrap func(blob.Driver) blob.Driver) Config {
	cfg.wrapBucket = wrap
	return cfg
}
