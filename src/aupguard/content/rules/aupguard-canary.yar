// YARA rules shipped with aupguard's default pack. The canary matches the
// project's own harmless test attachment (like the EICAR file, but aupguard's),
// so that an operator can check that YARA scanning runs end to end.
// Operators add their own rule files through the pack's `attachments.yara`.

rule aupguard_canary
{
    meta:
        description = "aupguard's harmless attachment-scanning canary"
    strings:
        $canary = "AUPGUARD-CANARY-ATTACHMENT"
    condition:
        $canary
}

rule android_dropper_script
{
    meta:
        description = "A script that downloads and installs an Android package, as smishing droppers do"
    strings:
        $pm = "pm install" ascii nocase
        $apk = ".apk" ascii nocase
        $get = /(curl|wget)\s+\S+/ ascii nocase
    condition:
        $pm and $apk and $get
}
