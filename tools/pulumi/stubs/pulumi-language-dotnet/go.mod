// Stand-in for github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3, whose
// source the Go module proxy does not serve. pulumi-docker-build imports only
// its codegen.CSharpPackageInfo type, to put .NET SDK generation settings into
// the provider's schema; nothing at run time reads them.
// tools/build-pulumi.sh replaces the real module with this one.
module github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3

go 1.21
