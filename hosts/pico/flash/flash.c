/*
 * Natives for hosts/pico/flash/flash.js. The partition is the SDK's
 * kPartitionStorage: the last MODDEF_FILE_LFS_PARTITION_SIZE bytes of the
 * flash left free by the firmware (and any mod), below the preferences.
 * modSPIWrite/modSPIErase are the SDK's own routines, which pad writes to
 * 256-byte pages with 0xFF (harmless on NOR) and mask interrupts while the
 * XIP flash is busy.
 *
 * Not compiled in the xsedge repository's checks (no pico-sdk there): built
 * only by `mcconfig -p pico/...` with the pico-sdk installed.
 */
#include "xsmc.h"
#include "xsHost.h"

typedef struct {
	uint32_t start;			// offset from the start of flash, as modSPI* take it; kClosed after close()
	uint32_t byteLength;
} xsedgeFlashRecord, *xsedgeFlash;

#define kClosed (~(uint32_t)0)

static xsedgeFlash getFlash(xsMachine *the)
{
	xsedgeFlash flash = xsmcGetHostChunk(xsThis);
	if (kClosed == flash->start)
		xsUnknownError("closed");
	return flash;
}

// Same checks and messages as the SDK's nrf52 flash module, so the app sees one behaviour.
static void checkRange(xsMachine *the, xsedgeFlash flash, int offset, int byteLength)
{
	if ((offset < 0) || ((uint32_t)offset >= flash->byteLength))
		xsUnknownError("invalid offset");
	if ((byteLength <= 0) || (((uint32_t)offset + (uint32_t)byteLength) > flash->byteLength))
		xsUnknownError("invalid length");
}

void xs_xsedge_flash_destructor(void *data)
{
}

void xs_xsedge_flash(xsMachine *the)
{
	xsedgeFlashRecord flash;

	if (!modSPIFlashInit())
		xsUnknownError("init failed");
	if (c_strcmp(xsmcToString(xsArg(0)), "storage"))
		xsUnknownError("unknown partition");
	if (!modGetPartition(kPartitionStorage, &flash.start, &flash.byteLength) || !flash.byteLength)
		xsUnknownError("no storage partition: firmware leaves too little free flash");

	xsmcSetHostChunk(xsThis, &flash, sizeof(flash));
}

void xs_xsedge_flash_close(xsMachine *the)
{
	getFlash(the)->start = kClosed;
}

void xs_xsedge_flash_erase(xsMachine *the)
{
	xsedgeFlash flash = getFlash(the);
	int sector = xsmcToInteger(xsArg(0));

	if ((sector < 0) || ((uint32_t)sector >= (flash->byteLength / FLASH_SECTOR_SIZE)))
		xsUnknownError("invalid sector");
	if (!modSPIErase(flash->start + (sector * FLASH_SECTOR_SIZE), FLASH_SECTOR_SIZE))
		xsUnknownError("erase failed");
}

void xs_xsedge_flash_read(xsMachine *the)
{
	int offset = xsmcToInteger(xsArg(0));
	int byteLength = xsmcToInteger(xsArg(1));
	uint32_t start;

	checkRange(the, getFlash(the), offset, byteLength);
	xsmcSetArrayBuffer(xsResult, NULL, byteLength);
	start = getFlash(the)->start;		// xsmcSetArrayBuffer may move the host chunk
	if (!modSPIRead(start + offset, byteLength, xsmcToArrayBuffer(xsResult)))
		xsUnknownError("read failed");
}

void xs_xsedge_flash_write(xsMachine *the)
{
	int offset = xsmcToInteger(xsArg(0));
	int byteLength = xsmcToInteger(xsArg(1));
	xsedgeFlash flash = getFlash(the);
	uint32_t start = flash->start;
	void *buffer;
	xsUnsignedValue bufferLength;

	checkRange(the, flash, offset, byteLength);
	xsmcGetBufferReadable(xsArg(2), &buffer, &bufferLength);
	if (bufferLength < (xsUnsignedValue)byteLength)
		xsUnknownError("invalid length");
	if (!modSPIWrite(start + offset, byteLength, buffer))
		xsUnknownError("write failed");
}

void xs_xsedge_flash_byteLength(xsMachine *the)
{
	xsmcSetInteger(xsResult, getFlash(the)->byteLength);
}

void xs_xsedge_flash_blockSize(xsMachine *the)
{
	xsmcSetInteger(xsResult, FLASH_SECTOR_SIZE);
}
