; Inno Setup 6 script: dist\sizelab\ (the PyInstaller onedir) -> dist\ModelSizeLab-<version>-windows-x64-setup.exe
;
;   python -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller packaging\sizelab.spec
;   iscc /DAppVersion=0.1.0 /DIconFile=%CD%\build\windows\sizelab.ico packaging\windows\sizelab.iss
;
; Per-user install by default (no admin needed; the user may choose all users). The onedir is ~1 GB
; of mostly incompressible libraries, so lzma2 with a solid archive is used at its normal level.
;
; UNTESTED: written without a Windows machine to build or run it on; see packaging\README.md and
; packaging\ci\build-installers.yml, which builds it on a GitHub Windows runner.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Model Size Lab"
#define AppExe "sizelab.exe"
#define CliExe "sizelab-cli.exe"
#define Dist AddBackslash(SourcePath) + "..\..\dist"

[Setup]
; AppId identifies the product across versions (upgrades, uninstall); never change it.
AppId={{6A0D8C52-3C1E-4C8F-9B1E-5F7A2D9E4B11}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Model Size Lab developers
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#Dist}
OutputBaseFilename=ModelSizeLab-{#AppVersion}-windows-x64-setup
Compression=lzma2
SolidCompression=yes
LZMANumBlockThreads=4
WizardStyle=modern
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
#ifdef IconFile
SetupIconFile={#IconFile}
#endif
; Changes the PATH for the "addtopath" task below.
ChangesEnvironment=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add sizelab-cli to the PATH (command prompt)"; GroupDescription: "Command line:"; Flags: unchecked

[Files]
; The whole onedir, as built: the two programs and _internal\ (Python, torch, Qt, the bundled model).
Source: "{#Dist}\sizelab\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{userdocs}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{userdocs}"; Tasks: desktopicon

[Registry]
; Per-user PATH entry (HKCU) for sizelab-cli; removed again by the uninstaller through [Code] below.
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; \
    Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Files the app may have written inside its own folder (e.g. __pycache__ of transformers' .py files).
Type: filesandordirs; Name: "{app}\_internal"

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Path: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Path) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') = 0;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Path, Dir: string;
  P: Integer;
begin
  if CurUninstallStep <> usPostUninstall then
    exit;
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Path) then
    exit;
  Dir := ExpandConstant('{app}');
  Path := ';' + Path + ';';
  P := Pos(';' + Uppercase(Dir) + ';', Uppercase(Path));
  if P > 0 then
  begin
    Delete(Path, P, Length(Dir) + 1);  { the leading ';' and the folder }
    RegWriteExpandStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Copy(Path, 2, Length(Path) - 2));
  end;
end;
