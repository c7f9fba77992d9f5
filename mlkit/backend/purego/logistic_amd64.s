#include "textflag.h"

// The logistic function over float32 in float64 lanes with AVX2 + FMA (see logistic_amd64.go): exp(-|x|) by
// range reduction to |r| <= ln2/2 (k = round(a/ln2), fdlibm's two-part ln2) and a degree-13 Taylor polynomial,
// times 2^k built in the exponent bits; then 1/(1+e) for x >= 0 and e/(1+e) below, as simplego's formula.

DATA logisticdata<>+0(SB)/8, $1.4426950408889634
DATA logisticdata<>+8(SB)/8, $1.4426950408889634
DATA logisticdata<>+16(SB)/8, $1.4426950408889634
DATA logisticdata<>+24(SB)/8, $1.4426950408889634
DATA logisticdata<>+32(SB)/8, $0.6931471803691238
DATA logisticdata<>+40(SB)/8, $0.6931471803691238
DATA logisticdata<>+48(SB)/8, $0.6931471803691238
DATA logisticdata<>+56(SB)/8, $0.6931471803691238
DATA logisticdata<>+64(SB)/8, $1.9082149292705877e-10
DATA logisticdata<>+72(SB)/8, $1.9082149292705877e-10
DATA logisticdata<>+80(SB)/8, $1.9082149292705877e-10
DATA logisticdata<>+88(SB)/8, $1.9082149292705877e-10
DATA logisticdata<>+96(SB)/8, $1.0
DATA logisticdata<>+104(SB)/8, $1.0
DATA logisticdata<>+112(SB)/8, $1.0
DATA logisticdata<>+120(SB)/8, $1.0
DATA logisticdata<>+128(SB)/8, $-708.0
DATA logisticdata<>+136(SB)/8, $-708.0
DATA logisticdata<>+144(SB)/8, $-708.0
DATA logisticdata<>+152(SB)/8, $-708.0
DATA logisticdata<>+160(SB)/8, $1.6059043836821613e-10
DATA logisticdata<>+168(SB)/8, $1.6059043836821613e-10
DATA logisticdata<>+176(SB)/8, $1.6059043836821613e-10
DATA logisticdata<>+184(SB)/8, $1.6059043836821613e-10
DATA logisticdata<>+192(SB)/8, $2.08767569878681e-09
DATA logisticdata<>+200(SB)/8, $2.08767569878681e-09
DATA logisticdata<>+208(SB)/8, $2.08767569878681e-09
DATA logisticdata<>+216(SB)/8, $2.08767569878681e-09
DATA logisticdata<>+224(SB)/8, $2.505210838544172e-08
DATA logisticdata<>+232(SB)/8, $2.505210838544172e-08
DATA logisticdata<>+240(SB)/8, $2.505210838544172e-08
DATA logisticdata<>+248(SB)/8, $2.505210838544172e-08
DATA logisticdata<>+256(SB)/8, $2.755731922398589e-07
DATA logisticdata<>+264(SB)/8, $2.755731922398589e-07
DATA logisticdata<>+272(SB)/8, $2.755731922398589e-07
DATA logisticdata<>+280(SB)/8, $2.755731922398589e-07
DATA logisticdata<>+288(SB)/8, $2.7557319223985893e-06
DATA logisticdata<>+296(SB)/8, $2.7557319223985893e-06
DATA logisticdata<>+304(SB)/8, $2.7557319223985893e-06
DATA logisticdata<>+312(SB)/8, $2.7557319223985893e-06
DATA logisticdata<>+320(SB)/8, $2.48015873015873e-05
DATA logisticdata<>+328(SB)/8, $2.48015873015873e-05
DATA logisticdata<>+336(SB)/8, $2.48015873015873e-05
DATA logisticdata<>+344(SB)/8, $2.48015873015873e-05
DATA logisticdata<>+352(SB)/8, $0.0001984126984126984
DATA logisticdata<>+360(SB)/8, $0.0001984126984126984
DATA logisticdata<>+368(SB)/8, $0.0001984126984126984
DATA logisticdata<>+376(SB)/8, $0.0001984126984126984
DATA logisticdata<>+384(SB)/8, $0.001388888888888889
DATA logisticdata<>+392(SB)/8, $0.001388888888888889
DATA logisticdata<>+400(SB)/8, $0.001388888888888889
DATA logisticdata<>+408(SB)/8, $0.001388888888888889
DATA logisticdata<>+416(SB)/8, $0.008333333333333333
DATA logisticdata<>+424(SB)/8, $0.008333333333333333
DATA logisticdata<>+432(SB)/8, $0.008333333333333333
DATA logisticdata<>+440(SB)/8, $0.008333333333333333
DATA logisticdata<>+448(SB)/8, $0.041666666666666664
DATA logisticdata<>+456(SB)/8, $0.041666666666666664
DATA logisticdata<>+464(SB)/8, $0.041666666666666664
DATA logisticdata<>+472(SB)/8, $0.041666666666666664
DATA logisticdata<>+480(SB)/8, $0.16666666666666666
DATA logisticdata<>+488(SB)/8, $0.16666666666666666
DATA logisticdata<>+496(SB)/8, $0.16666666666666666
DATA logisticdata<>+504(SB)/8, $0.16666666666666666
DATA logisticdata<>+512(SB)/8, $0.5
DATA logisticdata<>+520(SB)/8, $0.5
DATA logisticdata<>+528(SB)/8, $0.5
DATA logisticdata<>+536(SB)/8, $0.5
DATA logisticdata<>+544(SB)/8, $1.0
DATA logisticdata<>+552(SB)/8, $1.0
DATA logisticdata<>+560(SB)/8, $1.0
DATA logisticdata<>+568(SB)/8, $1.0
DATA logisticdata<>+576(SB)/8, $1.0
DATA logisticdata<>+584(SB)/8, $1.0
DATA logisticdata<>+592(SB)/8, $1.0
DATA logisticdata<>+600(SB)/8, $1.0
DATA logisticdata<>+608(SB)/8, $0x7fffffffffffffff
DATA logisticdata<>+616(SB)/8, $0x7fffffffffffffff
DATA logisticdata<>+624(SB)/8, $0x7fffffffffffffff
DATA logisticdata<>+632(SB)/8, $0x7fffffffffffffff
DATA logisticdata<>+640(SB)/8, $1023
DATA logisticdata<>+648(SB)/8, $1023
DATA logisticdata<>+656(SB)/8, $1023
DATA logisticdata<>+664(SB)/8, $1023
GLOBL logisticdata<>(SB), RODATA|NOPTR, $672

// func logisticAVX(out, x *float32, n int): n a multiple of 4.
TEXT ·logisticAVX(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VXORPD Y13, Y13, Y13
	VMOVUPD logisticdata<>+96(SB), Y14
	VMOVUPD logisticdata<>+128(SB), Y15
loop4:
	CMPQ CX, $4
	JL done
	VCVTPS2PD (SI), Y0
	VANDPD logisticdata<>+608(SB), Y0, Y1
	VSUBPD Y1, Y13, Y1
	VMAXPD Y1, Y15, Y1
	VMULPD logisticdata<>+0(SB), Y1, Y2
	VROUNDPD $0, Y2, Y2
	VMOVAPD Y1, Y3
	VFNMADD231PD logisticdata<>+32(SB), Y2, Y3
	VFNMADD231PD logisticdata<>+64(SB), Y2, Y3
	VMOVUPD logisticdata<>+160(SB), Y4
	VFMADD213PD logisticdata<>+192(SB), Y3, Y4
	VFMADD213PD logisticdata<>+224(SB), Y3, Y4
	VFMADD213PD logisticdata<>+256(SB), Y3, Y4
	VFMADD213PD logisticdata<>+288(SB), Y3, Y4
	VFMADD213PD logisticdata<>+320(SB), Y3, Y4
	VFMADD213PD logisticdata<>+352(SB), Y3, Y4
	VFMADD213PD logisticdata<>+384(SB), Y3, Y4
	VFMADD213PD logisticdata<>+416(SB), Y3, Y4
	VFMADD213PD logisticdata<>+448(SB), Y3, Y4
	VFMADD213PD logisticdata<>+480(SB), Y3, Y4
	VFMADD213PD logisticdata<>+512(SB), Y3, Y4
	VFMADD213PD logisticdata<>+544(SB), Y3, Y4
	VFMADD213PD logisticdata<>+576(SB), Y3, Y4
	VCVTPD2DQY Y2, X5
	VPMOVSXDQ X5, Y5
	VPADDQ logisticdata<>+640(SB), Y5, Y5
	VPSLLQ $52, Y5, Y5
	VMULPD Y5, Y4, Y4
	VCMPPD $0x11, Y13, Y0, Y6
	VBLENDVPD Y6, Y4, Y14, Y7
	VADDPD Y14, Y4, Y8
	VDIVPD Y8, Y7, Y7
	VCVTPD2PSY Y7, X7
	VMOVUPS X7, (DI)
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $4, CX
	JMP loop4
done:
	VZEROUPPER
	RET
