// hiredis (Debian libhiredis-dev) as the RESP codec only: its reader parses replies and its
// formatter encodes commands. No blocking hiredis call is used anywhere.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
