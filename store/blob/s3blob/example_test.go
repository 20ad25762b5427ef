package s3blob_test

import (
	"fmt"

	"github.com/graphvault/graphvault/store/blob/s3blob"
)

func ExampleConfig() {
	cfg := s3blob.Config{
		Endpoint:  "https://s3.example.com",
		Bucket:    "backups",
		Prefix:    "graphvault/prod",
		AccessKey: "AKIDEXAMPLE",
		SecretKey: "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY",
		Region:    "eu-west-1",
	}
	// Printing or logging a Config never shows the secret.
	fmt.Println(cfg)
	// Output: s3blob.Config{Endpoint:"https://s3.example.com" Bucket:"backups" Prefix:"graphvault/prod" Region:"eu-west-1" Secure:false AccessKey:"AKIDEXAMPLE" SecretKey:"[REDACTED]" SessionToken:""}
}
