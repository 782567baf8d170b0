// Stand-in for github.com/pulumi/pulumi-java, which the Go module proxy does
// not serve. pulumi-docker-build imports only its java.PackageInfo type, to put
// Java SDK generation settings into the provider's schema; nothing at run time
// reads them. tools/build-pulumi.sh replaces the real module with this one.
module github.com/pulumi/pulumi-java

go 1.21
