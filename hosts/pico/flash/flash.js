/*
 * The SDK's `flash` module interface for RP2040/RP2350, which the SDK does
 * not provide there (modules/files/flash covers esp, esp32 and nrf52). The
 * natives in flash.c reach the same "storage" area of the XIP flash that the
 * SDK's littlefs uses on pico. JavaScript rather than TypeScript because the
 * host-function syntax (@ "native") is XS's own.
 */
class Flash @ "xs_xsedge_flash_destructor" {
	constructor(name) @ "xs_xsedge_flash";

	erase(sector) @ "xs_xsedge_flash_erase";
	read(offset, byteLength) @ "xs_xsedge_flash_read";
	write(offset, byteLength, buffer) @ "xs_xsedge_flash_write";
	close() @ "xs_xsedge_flash_close";
	map() { throw new Error("map() not supported"); }

	get byteLength() @ "xs_xsedge_flash_byteLength";
	get blockSize() @ "xs_xsedge_flash_blockSize";
}

export default Flash;
