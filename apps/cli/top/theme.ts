import { createContext, useContext } from 'react';

/** Colours, or none when NO_COLOR is set (https://no-color.org): then every `color` is undefined
 *  and emphasis comes from bold and inverse alone. */
export interface Theme {
  accent?: string;
  good?: string;
  warn?: string;
  bad?: string;
  dim?: string;
}

export const colourTheme: Theme = { accent: 'cyan', good: 'green', warn: 'yellow', bad: 'red', dim: 'gray' };
export const plainTheme: Theme = {};

export function themeFor(env: NodeJS.ProcessEnv): Theme {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '' ? plainTheme : colourTheme;
}

export const ThemeContext = createContext<Theme>(colourTheme);

export function useTheme(): Theme {
  return useContext(ThemeContext);
}
