package ecr_test

import (
	"errors"
	"fmt"

	"github.com/pullkeys/pullkeys/ecr"
)

func ExampleParseHost() {
	for _, host := range []string{
		"123456789012.dkr.ecr.us-west-2.amazonaws.com",
		"123456789012.dkr-ecr-fips.us-gov-west-1.on.aws",
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
		"public.ecr.aws",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io",
	} {
		reg, err := ecr.ParseHost(host)
		switch {
		case errors.Is(err, ecr.ErrNotECR):
			fmt.Printf("%s: no credentials\n", host)
		case reg.Public:
			fmt.Printf("%s: ECR Public in %s\n", host, reg.Region)
		default:
			fmt.Printf("%s: account %s, region %s, partition %s, FIPS %v, dual-stack %v\n",
				host, reg.Account, reg.Region, reg.Partition, reg.FIPS, reg.DualStack)
		}
	}
	// Output:
	// 123456789012.dkr.ecr.us-west-2.amazonaws.com: account 123456789012, region us-west-2, partition aws, FIPS false, dual-stack false
	// 123456789012.dkr-ecr-fips.us-gov-west-1.on.aws: account 123456789012, region us-gov-west-1, partition aws-us-gov, FIPS true, dual-stack true
	// 123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn: account 123456789012, region cn-north-1, partition aws-cn, FIPS false, dual-stack false
	// public.ecr.aws: ECR Public in us-east-1
	// 123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io: no credentials
}

func ExampleRoleFor() {
	annotations := map[string]string{
		ecr.AnnotationRoleARN:    "arn:aws:iam::123456789012:role/app",
		ecr.AnnotationECRRoleARN: "arn:aws:iam::123456789012:role/ecr-pull",
	}
	role, source := ecr.RoleFor("<service account token>", annotations, "")
	fmt.Printf("%s from %s\n", role, source)

	role, source = ecr.RoleFor("<service account token>", nil, "arn:aws:iam::123456789012:role/default")
	fmt.Printf("%s from %s\n", role, source)

	role, _ = ecr.RoleFor("<service account token>", nil, "")
	fmt.Printf("no role: %q (the node's identity)\n", role)
	// Output:
	// arn:aws:iam::123456789012:role/ecr-pull from annotation eks.amazonaws.com/ecr-role-arn
	// arn:aws:iam::123456789012:role/default from default role (--role-arn, $AWS_ECR_ROLE_ARN)
	// no role: "" (the node's identity)
}

func ExampleMatchImages() {
	for _, p := range ecr.MatchImages() {
		fmt.Println(p)
	}
	// Output:
	// *.dkr.ecr.*.amazonaws.com
	// *.dkr.ecr-fips.*.amazonaws.com
	// *.dkr.ecr.*.amazonaws.com.cn
	// *.dkr.ecr-fips.*.amazonaws.com.cn
	// *.dkr.ecr.*.amazonaws.eu
	// *.dkr.ecr-fips.*.amazonaws.eu
	// *.dkr.ecr.*.c2s.ic.gov
	// *.dkr.ecr-fips.*.c2s.ic.gov
	// *.dkr.ecr.*.sc2s.sgov.gov
	// *.dkr.ecr-fips.*.sc2s.sgov.gov
	// *.dkr.ecr.*.cloud.adc-e.uk
	// *.dkr.ecr-fips.*.cloud.adc-e.uk
	// *.dkr.ecr.*.csp.hci.ic.gov
	// *.dkr.ecr-fips.*.csp.hci.ic.gov
	// *.dkr-ecr.*.on.aws
	// *.dkr-ecr-fips.*.on.aws
	// *.dkr-ecr.*.on.amazonwebservices.com.cn
	// *.dkr-ecr-fips.*.on.amazonwebservices.com.cn
	// public.ecr.aws
	// ecr-public.aws.com
}
