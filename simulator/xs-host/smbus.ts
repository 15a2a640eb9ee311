// `embedded:io/smbus` of the simulated board: SMBus over its bridged I2C.
import I2C from "./i2c.js";
import { smbusOver } from "./simulated-smbus.js";

const SMBus = smbusOver(I2C);
export default SMBus;
