package kafka

import (
	"context"
	"errors"
	"fmt"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/hookline/hookline/internal/config"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/aws"
)

// awsUserAgent is the user agent MSK sees, which an IAM policy may match
// (aws:UserAgent).
const awsUserAgent = "hookline"

// errAWSCredentials marks an authentication that found no AWS
// credentials; Check names the chain in its advice.
var errAWSCredentials = errors.New("no AWS credentials")

// awsIAM is AWS_MSK_IAM with the AWS SDK's default credential chain: the
// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), the shared config and credentials files
// (AWS_PROFILE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE), web
// identity (AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, as EKS sets
// for a service account's role), the ECS task role and the EC2 instance
// role. The SDK caches the credentials and renews them before they
// expire; each authentication takes the current ones. The region is the
// broker's, read by franz-go from its host name.
func awsIAM() (sasl.Mechanism, error) {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		return nil, config.Errorf(ErrSecurity, "SASLMechanism", "%s: loading the AWS configuration: %v", MechanismAWSMSKIAM, err)
	}
	creds := cfg.Credentials
	if creds == nil {
		return nil, config.Errorf(ErrSecurity, "SASLMechanism", "%s: the AWS SDK found no credential provider", MechanismAWSMSKIAM)
	}
	return aws.ManagedStreamingIAM(func(ctx context.Context) (aws.Auth, error) {
		c, err := creds.Retrieve(ctx)
		if err != nil {
			return aws.Auth{}, fmt.Errorf("%w: %v", errAWSCredentials, err)
		}
		return aws.Auth{AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey, SessionToken: c.SessionToken, UserAgent: awsUserAgent}, nil
	}), nil
}
