"""The built-in demo fabric that `vpclab demo` builds (grows with the product)."""

from __future__ import annotations

DEMO_CONFIG = """\
cxp aws-east
 cloud aws
 region us-east-1
 description AWS hub
!
cxp azure-west
 cloud azure
 region westus2
 description Azure hub
!
segment prod
 description production workloads
!
segment nonprod
 description development and test
!
segment shared
 description shared services (DNS, directory)
!
vpc prod-web
 cxp aws-east
 segment prod
 group web
 cidr 10.10.0.0/16
 subnet app 10.10.1.0/24
 host pweb1 10.10.1.10
 host pweb2 10.10.1.11
!
vpc prod-db
 cxp azure-west
 segment prod
 cidr 10.11.0.0/16
 subnet data 10.11.1.0/24
 host pdb1 10.11.1.10
!
vpc dev-web
 cxp aws-east
 segment nonprod
 cidr 10.10.0.0/16
 subnet app 10.10.1.0/24
 host dweb1 10.10.1.10
!
vpc svc
 cxp azure-west
 segment shared
 cidr 10.4.0.0/16
 subnet infra 10.4.1.0/24
 host dns1 10.4.1.53
!
"""

BANNER = """\
vpclab demo: two hubs (aws-east, azure-west), segments prod, nonprod, shared.
prod-web and dev-web use the same addresses in different segments. Try:
  show vpcs                         show ip route segment prod
  ping pdb1 from pweb1              assert unreachable dweb1 from pweb1
  show running-config | section vpc configure, then  vpc prod-web ?
Type ? anywhere for help, TAB to complete, exit to leave.
"""
