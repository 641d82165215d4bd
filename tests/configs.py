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
