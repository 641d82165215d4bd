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
 policy 10 permit tcp group web group db eq 5432 log
 policy 20 deny tcp group web group db
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
 group db
 cidr 10.11.0.0/16
 subnet data 10.11.1.0/24
 host pdb1 10.11.1.10
 service pg tcp-echo on pdb1 port 5432
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
 host ad1 10.4.1.10
 service dns dns on dns1
 service ldap tcp-echo on ad1 port 389
 endpoint objstore-ep service objstore address 10.4.1.20
!
endpoint-service objstore
 cxp azure-west
 kind http
 port 443
!
segment cust-a
 description customer A (10.1.0.0/16, like customer B)
!
segment cust-b
 description customer B (10.1.0.0/16, like customer A)
!
segment provider
 description a provider portal both customers use
!
vpc wan-a
 cxp aws-east
 segment cust-a
 cidr 10.1.0.0/16
 subnet lan 10.1.1.0/24
 host alice 10.1.1.10
!
vpc wan-b
 cxp aws-east
 segment cust-b
 cidr 10.1.0.0/16
 subnet lan 10.1.1.0/24
 host bill 10.1.1.10
!
vpc portal
 cxp aws-east
 segment provider
 cidr 10.1.0.0/16
 subnet dmz 10.1.200.0/24
 host portal1 10.1.200.10
 service www http on portal1 port 80
!
prefix-list SVC seq 5 permit 10.4.1.0/24
!
prefix-list PROD seq 5 permit 10.10.0.0/16
prefix-list PROD seq 10 permit 10.11.0.0/16
!
prefix-list DEV seq 5 permit 10.10.0.0/16
!
prefix-list CUST seq 5 permit 10.1.1.0/24
!
prefix-list PORTAL seq 5 permit 10.1.200.10/32
!
resource-share svc-prod
 description shared services for production
 end-a segment prod prefix-list PROD
 end-b segment shared prefix-list SVC
 direction a-to-b
!
resource-share svc-dev
 description shared services for development (same addresses as prod-web: translated)
 end-a segment nonprod prefix-list DEV
 end-b segment shared prefix-list SVC
 direction a-to-b
 nat end-a 10.10.0.0/16 to 100.70.0.0/16
!
resource-share portal-a
 end-a segment cust-a prefix-list CUST
 end-b segment provider prefix-list PORTAL
 direction a-to-b
 nat end-a 10.1.1.0/24 to 100.64.1.0/24
 nat end-b 10.1.200.10/32 to 172.31.255.10/32
!
segment spokes
 description spokes reach each other and the internet through firewall fw1
 policy 10 inspect fw1 ip any any
!
vpc spoke1
 cxp aws-east
 segment spokes
 group intranet
 cidr 10.40.0.0/16
 subnet a 10.40.1.0/24
 host s1web 10.40.1.10
 service web http on s1web port 80
!
vpc spoke2
 cxp azure-west
 segment spokes
 group intranet
 cidr 10.41.0.0/16
 subnet a 10.41.1.0/24
 host s2app 10.41.1.10
 service api http on s2app port 8080
!
firewall fw1
 cxp aws-east
 instances 2
 zone intranet segment spokes group intranet
 zone internet internet inet
 rule 10 permit tcp from intranet to internet eq 80 log
 rule 20 permit tcp from intranet to intranet eq 8080
 rule 30 permit tcp from internet to intranet eq 80
 rule 100 deny ip from any to any log
!
internet inet
 cxp aws-east
 segment spokes
 snat-address 198.51.100.1
 inspect firewall fw1
 public-host web-out 203.0.113.80
 load-balancer weblb vip 198.51.100.10 port 80 backend s1web
!
resource-share portal-b
 end-a segment cust-b prefix-list CUST
 end-b segment provider prefix-list PORTAL
 direction a-to-b
 nat end-a 10.1.1.0/24 to 100.64.2.0/24
 nat end-b 10.1.200.10/32 to 172.31.255.10/32
!
"""

BANNER = """\
vpclab demo: two hubs (aws-east, azure-west); prod, nonprod and shared segments;
two customers with the same addresses behind NAT reach one provider portal.
  show vpcs                         show ip route segment prod
  ping pdb1 from pweb1              assert unreachable dweb1 from pweb1
  shared services (one-way shares; dev-web is NAT'ed, it overlaps prod-web):
    assert reachable ad1 from dweb1 protocol tcp port 389
    host pweb1 exec dig @10.4.1.53 pdb1.LAB. +short      show share svc-dev
  overlapping customers:  assert reachable 172.31.255.10 from alice protocol tcp port 80
    assert reachable 172.31.255.10 from bill protocol tcp port 80    show flows segment provider
  policy: assert reachable pdb1 from pweb1 protocol tcp port 5432   show policy hits   show log
  firewall fw1 (east-west across hubs, egress, ingress):  show firewall fw1   show internet
    assert reachable s2app from s1web protocol tcp port 8080    assert unreachable s2app from s1web protocol tcp port 22
    assert reachable web-out from s1web protocol tcp port 80    assert reachable 198.51.100.10 from web-out protocol tcp port 80
    trace s2app from s1web protocol tcp port 8080   show policy hits firewall fw1   show flows firewall fw1
  private endpoint (object storage in the shared VPC, reached over the shares):  show endpoints
    assert reachable 10.4.1.20 from pweb1 protocol tcp port 443    assert unreachable 10.4.1.20 from alice protocol tcp port 443
    host dweb1 exec dig @10.4.1.53 objstore.LAB. +short
Type ? anywhere for help, TAB to complete, exit to leave.
"""
