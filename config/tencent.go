package config

import (
	"fmt"
	"os"
	"strconv"
)

// tencentFromEnv reads the Tencent surface's switches that live apart from its credential.
func (c *Config) tencentFromEnv() {
	if v := os.Getenv("ERASURE_TENCENT_ALLOW_UNSIGNED_PAYLOAD"); v != "" {
		b, err := strconv.ParseBool(v)
		c.TencentAllowUnsignedPayload = b
		if err != nil {
			c.tencentUnsignedInvalid = v
		}
	}
}

func (c *Config) validateTencent() error {
	if c.tencentUnsignedInvalid != "" {
		return fmt.Errorf("ERASURE_TENCENT_ALLOW_UNSIGNED_PAYLOAD must be true or false, got %q", c.tencentUnsignedInvalid)
	}
	return nil
}
