"""Unit stacks: a stack whose Pulumi.<stack>.yaml declares `pulumi-gitops:units` gets one stack per unit, made here."""
