"""Configurations shared by engine and lab tests."""

from __future__ import annotations

import textwrap

# two customers with the same addresses reach one provider through NAT
PORTAL = textwrap.dedent(
    """\
    segment cust-a
    !
    segment cust-b
    !
    segment provider
    !
    vpc wan-a
     segment cust-a
     cidr 10.1.0.0/16
     subnet lan 10.1.1.0/24
     host alice 10.1.1.10
    !
    vpc wan-b
     segment cust-b
     cidr 10.1.0.0/16
     subnet lan 10.1.1.0/24
     host bill 10.1.1.10
    !
    vpc portal
     segment provider
     cidr 10.1.0.0/16
     subnet dmz 10.1.200.0/24
     host portal1 10.1.200.10
     service echo tcp-echo on portal1
     service uecho udp-echo on portal1
    !
    prefix-list CUST seq 5 permit 10.1.1.0/24
    !
    prefix-list PORTAL seq 5 permit 10.1.200.10/32
    !
    resource-share portal-a
     end-a segment cust-a prefix-list CUST
     end-b segment provider prefix-list PORTAL
     direction a-to-b
     nat end-a 10.1.1.0/24 to 100.64.1.0/24
     nat end-b 10.1.200.10/32 to 172.31.255.10/32
    !
    resource-share portal-b
     end-a segment cust-b prefix-list CUST
     end-b segment provider prefix-list PORTAL
     direction a-to-b
     nat end-a 10.1.1.0/24 to 100.64.2.0/24
     nat end-b 10.1.200.10/32 to 172.31.255.10/32
    !
    """
)

# one central endpoints VPC on hub east, consumers of its segment on three
# hubs, prod through a NAT'ing share, partner through a share it may not
# open, iso with no path at all
ENDPOINTS = textwrap.dedent(
    """\
    cxp east
    !
    cxp west
    !
    cxp north
    !
    segment apps
    !
    segment prod
    !
    segment partner
    !
    segment iso
    !
    endpoint-service objstore
     cxp east
     port 443
    !
    endpoint-service api
     cxp west
     kind tcp-echo
     port 9000
    !
    vpc endpoints
     cxp east
     segment apps
     cidr 10.50.0.0/16
     subnet ep 10.50.1.0/24
     host dns1 10.50.1.53
     service ns dns on dns1
     endpoint s3ep service objstore address 10.50.1.20
     endpoint apiep service api address 10.50.1.21
    !
    vpc app-east
     cxp east
     segment apps
     cidr 10.61.0.0/16
     subnet a 10.61.1.0/24
     host e1 10.61.1.10
    !
    vpc app-west
     cxp west
     segment apps
     cidr 10.62.0.0/16
     subnet a 10.62.1.0/24
     host w1 10.62.1.10
    !
    vpc app-north
     cxp north
     segment apps
     cidr 10.63.0.0/16
     subnet a 10.63.1.0/24
     host n1 10.63.1.10
    !
    vpc prod-app
     cxp west
     segment prod
     cidr 10.10.0.0/16
     subnet a 10.10.1.0/24
     host p1 10.10.1.10
    !
    vpc partner-app
     cxp north
     segment partner
     cidr 10.20.0.0/16
     subnet a 10.20.1.0/24
     host q1 10.20.1.10
    !
    vpc lone
     segment iso
     cidr 10.30.0.0/16
     subnet a 10.30.1.0/24
     host i1 10.30.1.10
    !
    prefix-list EP seq 5 permit 10.50.1.0/24
    !
    prefix-list PROD seq 5 permit 10.10.0.0/16
    !
    prefix-list PARTNER seq 5 permit 10.20.0.0/16
    !
    resource-share eps-prod
     end-a segment apps prefix-list EP
     end-b segment prod prefix-list PROD
     direction b-to-a
     nat end-a 10.50.1.0/24 to 100.64.50.0/24
    !
    resource-share eps-partner
     end-a segment apps prefix-list EP
     end-b segment partner prefix-list PARTNER
     direction a-to-b
    !
    """
)

# two tenants with the same addresses, each with its own endpoints of the
# same two services, in its own VPC at the same address
TWIN_ENDPOINTS = textwrap.dedent(
    """\
    segment cust-a
    !
    segment cust-b
    !
    endpoint-service objstore
    !
    endpoint-service echo
     kind tcp-echo
     port 7000
    !
    vpc wan-a
     segment cust-a
     cidr 10.1.0.0/16
     subnet lan 10.1.1.0/24
     host alice 10.1.1.10
     endpoint store-a service objstore address 10.1.1.20
     endpoint echo-a service echo address 10.1.1.21
    !
    vpc wan-b
     segment cust-b
     cidr 10.1.0.0/16
     subnet lan 10.1.1.0/24
     host bill 10.1.1.10
     endpoint store-b service objstore address 10.1.1.20
     endpoint echo-b service echo address 10.1.1.21
    !
    """
)
